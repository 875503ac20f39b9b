"""The application: settings, database engine, the pipeline (stage order), workers, CLI, web."""
