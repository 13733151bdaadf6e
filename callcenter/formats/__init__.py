"""Date and number formats per language (FORMAT_MODULE_PATH), over Django's own.

One short date format per language, used by every page (`date:"SHORT_DATE_FORMAT"`) and by the
charts: ISO dates, as mainland Chinese business software writes them and as the English pages
always did. Numbers group by thousands with a comma in both languages (Django's Chinese default
groups by ten thousands with no separator: 1196183).
"""
