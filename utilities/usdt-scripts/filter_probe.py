#!/usr/bin/env python3
"""Placeholder: see issue 4."""
