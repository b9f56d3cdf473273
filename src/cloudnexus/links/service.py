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
from cloudnexus.errors import AppError, Gone, NotFound
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


def redeem(db: Session, *, token: str, count: bool = True) -> File:
    """The link's file, its download counted unless `count` is false; 404 when the link is
    unknown or revoked or its file gone, 410 when it expired or is used up.

    The count is one conditional UPDATE, so of N concurrent downloads of a link with
    k left, exactly k succeed.
    """
    now = utcnow()
    usable = (ShareLink.token_hash == token_hash(token), ShareLink.revoked_at.is_(None),
              ShareLink.expires_at > now,
              or_(ShareLink.max_downloads.is_(None),
                  ShareLink.downloads < ShareLink.max_downloads))
    if count:
        file_id = db.execute(
            update(ShareLink).where(*usable).values(downloads=ShareLink.downloads + 1)
            .returning(ShareLink.file_id).execution_options(synchronize_session=False)
        ).scalar_one_or_none()
    else:
        file_id = db.scalar(select(ShareLink.file_id).where(*usable))
    file = db.get(File, file_id) if file_id is not None else None
    if file is None or file.status != READY:
        db.rollback()
        raise _unusable(db, token=token) if file_id is None else NotFound("Link not found")
    db.commit()
    return file


def _unusable(db: Session, *, token: str) -> AppError:
    """Why a link cannot be used: unknown and revoked ones are 404 (a revoked link says no
    more than an unknown one), expired and used-up ones 410, saying which."""
    link = db.scalar(select(ShareLink).where(ShareLink.token_hash == token_hash(token)))
    if link is None or link.revoked_at is not None:
        return NotFound("Link not found")
    if link.expires_at <= utcnow():
        return Gone(f"This link expired at {link.expires_at.isoformat().replace('+00:00', 'Z')}")
    return Gone(f"This link is used up: {link.downloads} of {link.max_downloads} downloads")
