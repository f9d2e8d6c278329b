from sirenkit.cli import run

run()
