package httpapi

// The administration page, /admin.

func (a *api) adminPages() {}
