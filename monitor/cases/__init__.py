"""Cases: the incidents of one offender (a registrable domain, or domains that operator evidence links), grouped;
takedown notices drafted from them and their evidence bundles."""
