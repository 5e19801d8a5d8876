"""One live call: the session that orchestrates it and the pieces it is made of."""
