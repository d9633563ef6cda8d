"""The domain models (projects, members, columns, labels, tasks...) arrive with the tasks issue."""
