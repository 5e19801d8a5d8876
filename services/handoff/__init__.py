"""Handing a call to a human (transfer, whisper, callback tickets) and texting callers their tickets."""
