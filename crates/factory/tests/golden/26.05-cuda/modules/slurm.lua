-- -*- lua -*-
-- Lmod module for slurm-26.05-cuda-x86_64_v3, rendered by Slurm Factory.
--
-- Relocatable: set SLURM_INSTALL_PREFIX to the directory the package was
-- unpacked into; without it the install prefix below is used. Libraries are
-- found through RPATHs, so LD_LIBRARY_PATH is left alone.

local default_prefix = "/opt/slurm/slurm-26.05-cuda-x86_64_v3"
local prefix = os.getenv("SLURM_INSTALL_PREFIX") or ""
if prefix == "" then
    prefix = default_prefix
end

help([[
Slurm 26.05 (the default package plus NVIDIA GPU support (+nvml, cuda_arch)),
built with Spack for target x86_64_v3.

Prefix: ]] .. prefix .. [[

Set SLURM_INSTALL_PREFIX before loading to use a copy unpacked elsewhere.
SLURM_CONF defaults to /etc/slurm/slurm.conf unless already set.
]])

whatis("Name: Slurm")
whatis("Version: 26.05")
whatis("Package: slurm-26.05-cuda-x86_64_v3")
whatis("Description: Slurm workload manager, the default package plus NVIDIA GPU support (+nvml, cuda_arch)")

family("workloadmanager")
conflict("slurm")
conflict("slurm-wlm")

if mode() == "load" and not (isFile(pathJoin(prefix, "sbin", "slurmctld"))
        or isFile(pathJoin(prefix, "bin", "sinfo"))) then
    LmodError("Slurm was not found in '" .. prefix .. "' (no sbin/slurmctld or bin/sinfo).\n"
        .. "Set SLURM_INSTALL_PREFIX to the directory the Slurm package was unpacked into.")
end

prepend_path("PATH", pathJoin(prefix, "bin"))
prepend_path("PATH", pathJoin(prefix, "sbin"))
prepend_path("MANPATH", pathJoin(prefix, "share", "man"))
prepend_path("CPATH", pathJoin(prefix, "include"))
prepend_path("PKG_CONFIG_PATH", pathJoin(prefix, "lib", "pkgconfig"))
-- OpenMPI, PMIx and PRRTE look for their wrapper data and help files
-- under the prefix they were built at unless told where they are.
setenv("OPAL_PREFIX", prefix)
setenv("PMIX_PREFIX", prefix)
setenv("PRTE_PREFIX", prefix)
-- Keep a SLURM_CONF the user already has; restore the old value on unload.
pushenv("SLURM_CONF", os.getenv("SLURM_CONF") or "/etc/slurm/slurm.conf")
