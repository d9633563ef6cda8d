"""(Kept while tests/realtime still imports from here: the team lives in tests/helpers/teams.py.)"""

from tests.conftest import team  # noqa: F401
from tests.helpers.teams import Team, client_for  # noqa: F401
