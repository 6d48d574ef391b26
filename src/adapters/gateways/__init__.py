"""Gateway adapters: each speaks one PSP family's wire format over HTTP (httpx)."""
