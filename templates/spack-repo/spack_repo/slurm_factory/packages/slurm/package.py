# Slurm from spack-packages v2025.11.0, with the releases and the variant its
# develop branch has since added (spack-packages #5259 and #3174): the
# catalogue's 26.05, 25.11 and 25.05 builds need these versions. The dependency
# list of those releases is the same as 25.05's in develop's recipe.
#
# A site adds its own Slurm versions or patches the same way: a copy of this file
# in its templates dir (templates/spack-repo/spack_repo/slurm_factory/packages/
# slurm/package.py) with more version(...) or patch(...) lines.
from spack_repo.builtin.packages.slurm.package import Slurm as BuiltinSlurm

from spack.package import variant, version


class Slurm(BuiltinSlurm):
    """Slurm, the workload manager: spack-packages' recipe plus the newer
    releases Slurm Factory's catalogue builds."""

    version("26-05-1-1", sha256="432362d3ced66476a8edb61b6c06b6f0c0c1b3bbbf40589fae94de0664c803b5")
    version("25-11-6-1", sha256="2e305a5cc051d08ded4d710e349636b6a054da2c371bbce85797744b693ca790")
    version("25-05-8-1", sha256="3f77fa80fdcec1e8a47f146bf0b34a6a6c2435f13dad26aea758a7a0f8c82954")

    variant(
        "multiple_slurmd",
        default=False,
        description="Enable support for multiple slurmd instances",
    )

    def configure_args(self):
        args = super().configure_args()
        if self.spec.satisfies("+multiple_slurmd"):
            args.append("--enable-multiple-slurmd")
        return args
