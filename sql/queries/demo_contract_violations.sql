-- The legacy gateway's latest requests (up to 1,000) checked against the state contract
-- (ml.state_contract_violations, row 'any'): how many were checked, how many break it.
WITH window_row AS MATERIALIZED (
    SELECT requests_checked, requests FROM ml.state_contract_violations WHERE name = 'any'
)
SELECT 'checked' AS item, requests_checked AS n FROM window_row
UNION ALL
SELECT 'breaking the contract', requests FROM window_row
