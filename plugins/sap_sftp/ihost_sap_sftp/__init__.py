"""ihost connector for SAP over SFTP: IDoc XML and CSV files in shared folders."""
