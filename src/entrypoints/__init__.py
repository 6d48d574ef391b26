"""Entry points: settings, the composition root, HTTP app, CLI, sandbox server."""
