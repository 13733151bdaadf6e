"""HTML pages of care: rules and their editor (`rules`), message templates (`templates`),
effectiveness and the dashboard KPIs (`reports`). The URL configuration imports the modules."""
