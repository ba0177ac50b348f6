from casenotes.cli.main import app

app(prog_name="casenotes")
