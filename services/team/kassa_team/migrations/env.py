from kassa_platform.migrate import run_env

run_env()
