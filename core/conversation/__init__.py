"""Multi-turn conversations, the tool loop and structured output, built on the client."""
