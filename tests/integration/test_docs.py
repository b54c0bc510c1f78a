"""The README's configuration reference is the binary's own key table.

`veer --config-reference` prints the table that drives the config loader;
the README must carry exactly that between its config-reference markers, so
every key a user can type is documented (regenerate with
scripts/config-reference).
"""
import os
import subprocess
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
VEER = os.environ.get('VEER_BIN', os.path.join(ROOT, 'build', 'veer'))


class DocsTest(unittest.TestCase):
    def test_readme_reference_matches_the_key_table(self):
        ref = subprocess.run([VEER, '--config-reference'], check=True,
                             capture_output=True, text=True).stdout
        with open(os.path.join(ROOT, 'README.md')) as f:
            text = f.read()
        start, end = '<!-- config-reference -->\n', '<!-- /config-reference -->'
        self.assertIn(start, text)
        block = text[text.index(start) + len(start):text.index(end)]
        self.assertEqual(block, ref, 'README.md is out of date: run scripts/config-reference')
        # Every key of SPEC §2 a user types appears in it.
        for key in ('global.workers', 'listeners[].timeouts.header', 'pools[].servers[].weight',
                    'pools[].keepalive.max_idle', 'routes[].respond.body', 'routes[].split'):
            self.assertIn('`%s`' % key, block)


if __name__ == '__main__':
    unittest.main()
