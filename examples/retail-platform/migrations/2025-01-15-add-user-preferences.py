"""Add default notification preferences to every user that has none.

The Python form of the runbook's example migration (migrations/2025-01-15-add-user-preferences.js).
One deliberate difference: the runbook's down() unsets `preferences` on every user, which also
erases the preferences users chose themselves before this migration ran. This down() removes only
the defaults that up() could have written, so up -> down -> up leaves the same documents and a
rollback never destroys user data.
"""

# Exported by the backup taken before a staging/production run when mongodump is not installed.
collections = ["users"]

DEFAULT_PREFERENCES = {"newsletter": True, "notifications": True}


def up(db):
    db.users.update_many(
        {"preferences": {"$exists": False}},
        {"$set": {"preferences": dict(DEFAULT_PREFERENCES)}},
    )


def down(db):
    # Exact sub-document match: field order as written by up().
    db.users.update_many(
        {"preferences": dict(DEFAULT_PREFERENCES)},
        {"$unset": {"preferences": ""}},
    )


def verify(db):
    """Every user has preferences once the migration ran."""
    missing = db.users.count_documents({"preferences": {"$exists": False}})
    assert missing == 0, f"{missing} user(s) without preferences"
