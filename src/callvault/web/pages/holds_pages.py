"""Placeholder: this area's pages are being written."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
