"""A member's "For you" feed: the pure decisions (:mod:`.decisions`) over the model
(:mod:`.model`), its explanations (:mod:`.explain`), the followed authors (:mod:`.follows`),
seeds (:mod:`.seeds`), block scoring for digests (:mod:`.batch`) and the shortlist of a
large corpus (:mod:`.shortlist`); :mod:`.feed` is the one query the pages, the API, the
private feed and the digest call."""
