"""In-memory fakes of every port. For unit tests only; never wired in production."""
