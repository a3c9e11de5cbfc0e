//! Dockerfile frontend: parser to a spanned AST, directives, heredocs, word expansion, ARG/ENV scoping, stage graph, .dockerignore
