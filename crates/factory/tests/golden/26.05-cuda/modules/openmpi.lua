-- -*- lua -*-
-- Lmod hierarchy: OpenMPI of slurm-26.05-cuda-x86_64_v3, rendered by Slurm Factory,
-- at Compiler/gcc/<gcc version>/openmpi/<version>.lua.
--
-- Relocatable like the Slurm module: set SLURM_INSTALL_PREFIX to the
-- directory the package was unpacked into; without it the install prefix
-- below is used. Loading it opens MPI/gcc/<gcc>/openmpi/<version>/ for
-- what is built against this MPI.

local default_prefix = "/opt/slurm/slurm-26.05-cuda-x86_64_v3"
local prefix = os.getenv("SLURM_INSTALL_PREFIX") or ""
if prefix == "" then
    prefix = default_prefix
end
local root, gcc = myFileName():match("(.*)/Compiler/gcc/([^/]+)/openmpi/[^/]+$")

help([[
OpenMPI ]] .. myModuleVersion() .. [[ with Slurm and PMIx support, built with GCC ]] .. gcc .. [[

for Slurm 26.05 (slurm-26.05-cuda-x86_64_v3).

Prefix: ]] .. prefix .. [[

]])

whatis("Name: OpenMPI")
whatis("Version: " .. myModuleVersion())
whatis("Package: slurm-26.05-cuda-x86_64_v3")

family("mpi")

if mode() == "load" and not isFile(pathJoin(prefix, "bin", "mpirun")) then
    LmodError("OpenMPI was not found in '" .. prefix .. "' (no bin/mpirun).\n"
        .. "Set SLURM_INSTALL_PREFIX to the directory the Slurm package was unpacked into.")
end

prepend_path("PATH", pathJoin(prefix, "bin"))
prepend_path("MANPATH", pathJoin(prefix, "share", "man"))
setenv("MPI_HOME", prefix)
-- Its wrapper data and help files (and PMIx's and PRRTE's) are
-- found through these, not the prefix they were built at.
setenv("OPAL_PREFIX", prefix)
setenv("PMIX_PREFIX", prefix)
setenv("PRTE_PREFIX", prefix)
prepend_path("MODULEPATH", pathJoin(root, "MPI", "gcc", gcc, "openmpi", myModuleVersion()))
