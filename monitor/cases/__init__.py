"""Cases: incidents grouped by offender, takedown notices drafted from them and their evidence bundles."""
