"""The fair processing notice (public and for staff) and the Art. 30 record of processing,
generated from the live policy (docs/notice.md). Other packages go through ``notice.service``.
"""
