-- -*- lua -*-
-- Lmod hierarchy: the compiler level of slurm-26.05-default-x86_64_v3, rendered by Slurm Factory.
--
-- The GCC whose runtime this package's OpenMPI was built with (the build
-- system's compiler, not shipped in the package): loading it changes
-- nothing but MODULEPATH, where it opens Compiler/gcc/<version>/, the
-- modules built with it. Found from this file's own place, so the tree
-- works wherever the package was unpacked.

local root = myFileName():match("(.*)/Core/gcc/[^/]+$")

help([[
The compiler level of the Slurm Factory package slurm-26.05-default-x86_64_v3:
opens the modules built with GCC ]] .. myModuleVersion() .. [[ (OpenMPI).
]])

whatis("Name: GCC (compiler level)")
whatis("Version: " .. myModuleVersion())

family("compiler")
prepend_path("MODULEPATH", pathJoin(root, "Compiler", "gcc", myModuleVersion()))
