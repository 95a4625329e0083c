import psycopg


def test_postgres_server_answers(postgres):
    url = postgres.create_database()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
