"""The one ordered list of schema migrations; each migrations module appends to it on import."""

from sqlite_utils import Migrations

migrations = Migrations("scrapewatch")
