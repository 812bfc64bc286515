"""The API's routers, one per resource: time, sessions, session files, analyzers."""
