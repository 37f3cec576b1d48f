package classify

import "testing"

// benchStatements is a mix of statements typical of an ORM-driven application.
var benchStatements = []string{
	"SELECT `users`.`id`, `users`.`email`, `users`.`created_at` FROM `users` WHERE `users`.`id` = 42 LIMIT 1",
	"SELECT o.id, o.total, c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.status = 'open' AND o.created_at > NOW() - INTERVAL 1 DAY ORDER BY o.created_at DESC LIMIT 50",
	"INSERT INTO events (kind, payload, created_at) VALUES ('login', '{\"ip\":\"10.0.0.1\"}', NOW())",
	"UPDATE accounts SET balance = balance - 10 WHERE id = 7",
	"SELECT * FROM items WHERE id = 3 FOR UPDATE",
	"/* app:checkout */ SELECT COUNT(*) FROM cart_items WHERE cart_id = 99",
	"SET NAMES utf8mb4",
	"SET autocommit=0",
	"SELECT LAST_INSERT_ID()",
	"START TRANSACTION",
	"COMMIT",
	"SHOW TABLES",
	"WITH recent AS (SELECT id FROM posts WHERE published = 1 ORDER BY id DESC LIMIT 10) SELECT p.* FROM posts p JOIN recent r ON r.id = p.id",
	"SELECT @@session.tx_read_only",
	"USE shop",
}

func BenchmarkClassify(b *testing.B) {
	var bytes int64
	for _, s := range benchStatements {
		bytes += int64(len(s))
	}
	b.SetBytes(bytes / int64(len(benchStatements)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Classify(benchStatements[i%len(benchStatements)], Options{})
	}
}
