"""Share links: the token is shown once and stored hashed; downloads are counted atomically."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloudnexus.db.columns import utcnow
from cloudnexus.errors import NotFound
from cloudnexus.files.models import READY, File
from cloudnexus.links.models import ShareLink


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(db: Session, *, file: File, expires_in: int,
           max_downloads: int | None) -> tuple[ShareLink, str]:
    token = secrets.token_urlsafe(32)
    link = ShareLink(workspace_id=file.workspace_id, file_id=file.id,
                     token_hash=token_hash(token),
                     expires_at=utcnow() + timedelta(seconds=expires_in),
                     max_downloads=max_downloads, downloads=0)
    db.add(link)
    try:
        db.commit()
    except IntegrityError:  # the file was deleted since it was read: its key is gone
        db.rollback()
        raise NotFound("File not found") from None
    return link, token


def list_links(db: Session, *, file: File) -> list[ShareLink]:
    query = select(ShareLink).where(ShareLink.file_id == file.id,
                                    ShareLink.workspace_id == file.workspace_id)
    return [*db.scalars(query.order_by(ShareLink.created_at, ShareLink.id))]


def revoke(db: Session, *, workspace_id: uuid.UUID, link_id: uuid.UUID) -> None:
    link = db.get(ShareLink, link_id)
    if link is None or link.workspace_id != workspace_id:
        raise NotFound("Link not found")
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        db.commit()


def redeem(db: Session, *, token: str) -> File:
    """Count one download and return the file; 404 when unknown, revoked, expired, used up.

    The count is one conditional UPDATE, so of N concurrent downloads of a link with
    k left, exactly k succeed.
    """
    now = utcnow()
    counted = db.execute(
        update(ShareLink)
        .where(ShareLink.token_hash == token_hash(token), ShareLink.revoked_at.is_(None),
               ShareLink.expires_at > now,
               or_(ShareLink.max_downloads.is_(None),
                   ShareLink.downloads < ShareLink.max_downloads))
        .values(downloads=ShareLink.downloads + 1)
        .returning(ShareLink.file_id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    file = db.get(File, counted) if counted is not None else None
    if file is None or file.status != READY:
        db.rollback()
        raise NotFound("Link not found")
    db.commit()
    return file
