package envelope

import (
	"context"
	"fmt"
	"time"
)

// addPending records a blob written ahead of the transaction that makes it
// current.
func (st store) addPending(ctx context.Context, row pendingBlob) error {
	if err := st.db.Conn(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("record pending blob %s: %w", row.BlobKey, err)
	}
	return nil
}

// settlePending deletes the pending rows of keys and says how many there were.
func (st store) settlePending(ctx context.Context, keys []string) (int64, error) {
	res := st.db.Conn(ctx).Where("blob_key IN ?", keys).Delete(&pendingBlob{})
	if res.Error != nil {
		return 0, fmt.Errorf("settle blobs: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// claimPending deletes the pending row of key; false if it was gone.
func (st store) claimPending(ctx context.Context, key string) (bool, error) {
	res := st.db.Conn(ctx).Where("blob_key = ?", key).Delete(&pendingBlob{})
	if res.Error != nil {
		return false, fmt.Errorf("claim %s: %w", key, res.Error)
	}
	return res.RowsAffected > 0, nil
}

// pendingBefore lists the oldest pending rows written at or before t.
func (st store) pendingBefore(ctx context.Context, t time.Time) ([]pendingBlob, error) {
	var rows []pendingBlob
	if err := st.db.Conn(ctx).Where("created_at <= ?", t).Order("created_at").Limit(1000).Find(&rows).Error; err != nil {
		return nil, err
	}
	return rows, nil
}
