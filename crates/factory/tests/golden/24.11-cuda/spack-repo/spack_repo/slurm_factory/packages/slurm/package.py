from spack_repo.builtin.packages.slurm.package import Slurm as BuiltinSlurm

from spack.package import Spec, depends_on, variant, version


class Slurm(BuiltinSlurm):
    """Slurm, the workload manager: spack-packages' recipe plus the release
    this build asks for and the configure options newer releases renamed."""

    version("24-11-6-1", sha256="282708483326f381eb001a14852a1a82e65e18f37b62b7a5f4936c0ed443b600")

    # spack-packages #3174.
    variant(
        "multiple_slurmd",
        default=False,
        description="Enable support for multiple slurmd instances",
    )

    # Slurm's configure looks for glib only to build sview, the GTK viewer
    # (auxdir/x_ac_sview.m4), yet the recipe depends on it always: glib,
    # gettext, elfutils, pcre2 and libffi compiled and bundled in every
    # package. Here glib comes with +gtk (the unconditional edge is dropped
    # below the class).
    depends_on("glib", when="+gtk")

    def configure_args(self):
        args = super().configure_args()
        if self.spec.satisfies("~gtk"):
            # Without it configure still probes for glib and gtk, and finds
            # the container's if it has them.
            args.append("--disable-sview")
        if self.spec.satisfies("@26-05:"):
            # 26.05 renamed --with-http-parser (auxdir/x_ac_http_parser.m4);
            # the old name is ignored and slurmrestd's configure check fails.
            args = [
                a.replace("--with-http-parser=", "--with-libhttp-parser=", 1) for a in args
            ]
        if self.spec.satisfies("+restd"):
            # The recipe depends on libyaml but never names it: configure looks
            # in /usr only and, not finding it, builds no YAML support.
            args.append("--with-yaml={0}".format(self.spec["libyaml"].prefix))
        if self.spec.satisfies("+multiple_slurmd"):
            args.append("--enable-multiple-slurmd")
        # Slurm's configure builds for debugging unless told not to
        # (auxdir/x_ac_debug.m4: -ggdb3 -O1 last on the line, so -O1 wins):
        # the optimised build its sites run, and a buildcache entry of 56 MB
        # rather than 122 MB (26.05 +restd) that every rebuild unpacks.
        args.append("--disable-debug")
        return args


# Directives only add: the unconditional glib edge is taken out of this
# class's own table (DirectiveMeta gives each class a fresh one).
Slurm.dependencies[Spec()].pop("glib")
