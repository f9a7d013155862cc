INSERT INTO public.bench_echo (payload) VALUES ($1::jsonb) RETURNING id
