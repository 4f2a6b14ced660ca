# glib from spack-packages v2025.11.0, with its meson arguments fixed for
# glib < 2.79: that recipe passes -Dintrospection to every version, and the
# option exists only from 2.79 on ("meson.build:1:0: ERROR: Unknown options:
# introspection"). Fixed upstream in spack-packages #3998 (May 2026). Older
# glib is what the solver picks when the container's meson is older than 1.2
# (Debian 12: 1.0.1, Ubuntu 22.04: 0.61), since build tools are externals.
from spack_repo.builtin.packages.glib.package import Glib as BuiltinGlib
from spack_repo.builtin.packages.glib.package import MesonBuilder as BuiltinMesonBuilder


class MesonBuilder(BuiltinMesonBuilder):
    def meson_args(self):
        args = super().meson_args()
        if self.spec.satisfies("@:2.78"):
            args = [a for a in args if not a.startswith("-Dintrospection=")]
        return args


class Glib(BuiltinGlib):
    pass
