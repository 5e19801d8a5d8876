"""OpenAI Realtime: the session configuration, opening connections, sessions pre-opened at webhook time."""
