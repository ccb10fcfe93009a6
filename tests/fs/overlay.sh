# mount -t overlay over directories of the sandbox's own tree: two lower
# layers (one with a whiteout, as image layers carry them), an upper and a
# work directory; reads through the merged view, copy-up on write, a
# whiteout and an opaque directory written to the upper layer as Linux
# writes them, renames, then the upper layer reused as a lower one of a
# read-only overlay, and a bad option set. Run natively and in husk.
set -e
D=$(mktemp -d /tmp/ovl.XXXXXX)
cd $D
mkdir -p l1/a l1/d l2/a l2/keep u w m
echo l1 > l1/a/f1; echo l2 > l2/a/f2; echo both-l2 > l2/a/same; echo both-l1 > l1/a/same
echo k > l2/keep/k; ln -s f1 l1/a/link; echo x > l2/a/hidden
mknod l1/a/hidden c 0 0
mount -t overlay overlay -o lowerdir=l1:l2,upperdir=u,workdir=w m
ls m m/a; cat m/a/same m/a/f2; readlink m/a/link
echo new > m/a/new; echo more >> m/a/f2; rm m/a/f1; rmdir m/d; mkdir m/d; touch m/d/x
ls -A m/a m/d
ls -lA u/a | awk 'NR>1 {print $1, $NF}'
cat l2/a/f2 m/a/f2
mv m/a/new m/a/new2; ls m/a
mv m/keep m/keep2; ls m m/keep2
rm -r m/keep2; ls -A m
umount m
mount -t overlay overlay -o lowerdir=u:l1:l2 m
ls m/a; (echo x > m/a/z) 2>/dev/null || echo read-only
umount m
mount -t overlay overlay -o lowerdir=l1,upperdir=u m 2>/dev/null || echo refused
cd /; rm -rf $D
