-- Claim every pending echo job (as the product's worker claims decision jobs).
UPDATE public.bench_echo AS b SET status = 'running'
FROM (SELECT id FROM public.bench_echo WHERE status = 'pending'
      ORDER BY id LIMIT 512 FOR UPDATE SKIP LOCKED) AS picked
WHERE b.id = picked.id
RETURNING b.id, b.payload
