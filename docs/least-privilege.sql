-- The service's own role: it reads Better Auth's tables and owns nothing.
-- First, as the owner of the database: todo-graphql migrate
-- Then, as the tables' owner (CREATE ROLE also needs CREATEROLE; on Neon,
-- make the role in the console and run only the GRANTs):
CREATE ROLE todo_graphql_app LOGIN PASSWORD 'choose-one';
GRANT USAGE ON SCHEMA public TO todo_graphql_app;
-- Better Auth's user and session tables, under the names your app gives them.
GRANT SELECT ON "user", session TO todo_graphql_app;
-- The service's own tables (no sequences: task ids are uuids it makes).
GRANT SELECT, INSERT, UPDATE, DELETE ON tasks, task_creations TO todo_graphql_app;
-- RUN_MIGRATIONS=true only reads which migrations are applied.
GRANT SELECT ON todo_graphql_migrations TO todo_graphql_app;
