"""Django admin of the customer-profile domain.

The admin is a back office for admins, not a way around the services:
- customers are created and edited through `customer_create` / `customer_update` (validated,
  audited, announced); consent flags are read-only and change only through recorded actions;
- activity rows (orders, interactions, tickets, surveys) are read-only here, because their
  services announce the events care rules listen to;
- audit log, consent history, merges and import runs are read-only records;
- merge proposals are decided by actions that call the identity services, after a
  confirmation page, and report what moved;
- exporting and erasing a data subject's personal data are admin-only actions (a permission of
  the action, checked when it runs); erasure asks the admin to type the customer's external id
  (or the number of customers) first.

Lists stay cheap on big tables: related rows come with `list_select_related`, customer
foreign keys use raw id widgets, filters never list distinct values of a big column, and an
unfiltered list of a huge table shows the planner's row estimate instead of counting.

One module per sub-domain (customers, activity, records, merges); importing them registers
their admins.
"""

from callcenter.admin import activity, customers, merges, records
from callcenter.admin.merges import describe_moved

__all__ = ("activity", "customers", "describe_moved", "merges", "records")
