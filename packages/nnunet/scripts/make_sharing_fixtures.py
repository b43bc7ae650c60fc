"""Fixtures for test/io/zip.test.ts and test/sharing: archives written by Python's zipfile.

zip64_central.zip  the same members with ZIP64 extra fields in the central directory
zip64.zip     every entry with ZIP64 local/central records (force_zip64) and a ZIP64 end record
              (forced by lowering zipfile's entry-count limit), deflated and stored members, a
              UTF-8 name; zip64.json lists each member's name, size and SHA-256.
evil_*.zip    archives an installer must refuse: a '..' entry, an absolute path, a symbolic link,
              a Windows drive letter, a duplicated name; each also holds a harmless model file so
              a test can check that nothing at all was written.
Run: /usr/bin/python3 packages/nnunet/scripts/make_sharing_fixtures.py
"""
import hashlib
import json
import os
import zipfile

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'sharing')
os.makedirs(OUT, exist_ok=True)

rng = __import__('random').Random(7)
members = {
    'nnUNet/3d_fullres/Task099_Tiny/nnUNetTrainerV2__nnUNetPlansv2.1/plans.json': b'{"num_classes": 2}\n' * 50,
    'random.bin': bytes(rng.getrandbits(8) for _ in range(5000)),
    'empty.txt': b'',
    'dir/h\u00e9llo w\u00f6rld.txt': 'gr\u00fc\u00dfe\n'.encode('utf8'),
}

zipfile.ZIP_FILECOUNT_LIMIT = 0  # makes _write_end_record emit the ZIP64 end record and locator
with zipfile.ZipFile(os.path.join(OUT, 'zip64.zip'), 'w') as z:
    for i, (name, data) in enumerate(members.items()):
        info = zipfile.ZipInfo(name, date_time=(2021, 3, 4, 5, 6, 8))
        info.compress_type = zipfile.ZIP_STORED if i == 1 else zipfile.ZIP_DEFLATED
        with z.open(info, 'w', force_zip64=True) as f:
            f.write(data)
# zip64_central.zip: the same members with the ZIP64 threshold lowered to 100 bytes, so that the
# central directory itself saturates sizes and offsets to 0xFFFFFFFF and carries them in ZIP64
# extra fields (what a >4 GiB archive looks like), without writing gigabytes.
saved = zipfile.ZIP64_LIMIT
zipfile.ZIP64_LIMIT = 100
with zipfile.ZipFile(os.path.join(OUT, 'zip64_central.zip'), 'w') as z:
    for i, (name, data) in enumerate(members.items()):
        info = zipfile.ZipInfo(name, date_time=(2021, 3, 4, 5, 6, 8))
        info.compress_type = zipfile.ZIP_STORED if i == 1 else zipfile.ZIP_DEFLATED
        z.writestr(info, data)
zipfile.ZIP64_LIMIT = saved
with open(os.path.join(OUT, 'zip64.json'), 'w') as f:
    json.dump([{'name': n, 'size': len(d), 'sha256': hashlib.sha256(d).hexdigest()} for n, d in members.items()],
              f, indent=1)

GOOD = '3d_fullres/Task099_Tiny/nnUNetTrainerV2__nnUNetPlansv2.1/plans.json'


def evil(fname, entries):
    with zipfile.ZipFile(os.path.join(OUT, fname), 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr(info(GOOD), b'{}')
        for zi, data in entries:
            z.writestr(zi, data)


def info(name, mode=None):
    zi = zipfile.ZipInfo(name, date_time=(2021, 1, 1, 0, 0, 0))
    if mode is not None:
        zi.create_system = 3
        zi.external_attr = mode << 16
    return zi


evil('evil_dotdot.zip', [(info('3d_fullres/../../evil.txt'), b'pwned')])
evil('evil_absolute.zip', [(info('/tmp/nnunet_evil_absolute.txt'), b'pwned')])
evil('evil_symlink.zip', [(info('3d_fullres/Task099_Tiny/link', 0o120777), b'/etc')])
evil('evil_drive.zip', [(info('C:/evil.txt'), b'pwned')])
with __import__('warnings').catch_warnings():
    __import__('warnings').simplefilter('ignore')
    evil('evil_duplicate.zip', [(info(GOOD), b'{"second": 1}')])
