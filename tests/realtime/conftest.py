from tests.tasks.conftest import team  # noqa: F401  (the project-with-every-role fixture)
