"""English: the same ISO short dates and 24-hour times as the Chinese pages."""

SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
