"""What tests of every app share: the team, the authorization table, query counting."""

import pytest

# Helpers assert too: pytest explains their failures as it does the tests' (this runs
# before any helper module is imported).
pytest.register_assert_rewrite("tests.helpers.matrix", "tests.helpers.queries", "tests.helpers.teams")
