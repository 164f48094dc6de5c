"""{{ cookiecutter.system }} connector for ihost."""
