"""The ASGI app uvicorn serves: `uvicorn casenotes.service.main:app`, settings from the environment."""

from casenotes.service.app import create_app

app = create_app()
