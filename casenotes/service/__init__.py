"""The casenotes service: a FastAPI app over the pipeline and the client record."""
