"""factory_boy factories for the suite."""

from __future__ import annotations

from typing import Any

import factory

from accounts.models import User

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User

    username: Any = factory.Sequence(lambda n: f"user{n}")
    email: Any = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    full_name: Any = factory.Faker("name")

    @classmethod
    def _create(cls, model_class: type[User], *args: Any, **kwargs: Any) -> User:
        kwargs.setdefault("password", DEFAULT_PASSWORD)
        return model_class.objects.create_user(*args, **kwargs)
