# Regenerate the real-client captures in testdata/captures and their expected
# figures (root on Debian 12; see testdata/README.md). NAME: one scenario only.
captures NAME="":
    bash testdata/make-captures.sh {{NAME}}

# Recompute testdata/expected/*.json from the committed captures with tshark.
expected NAME="":
    bash testdata/expected.sh {{NAME}}
