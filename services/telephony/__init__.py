"""The carrier edge: each carrier's wire format behind one small event vocabulary (see `events`)."""
